"""Sphinx settings of the course website; tools/site.py copies the pages next to this file's folder
and builds. Sphinx with MyST-NB and the book theme: maintained, and they build offline (see the
README's section for lecturers)."""

project = "CNN course"
author = "the course's authors"
copyright = "the course's authors, MIT licence"
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# the notebooks are run by tools/site.py (full mode, widgets made static) before Sphinx sees them
nb_execution_mode = "off"
# one box for a cell's printed lines, also where a progress bar (a widget, left out) sat between them
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widget scripts from a CDN: tools/site.py has replaced the widgets by their figures
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = "CNN course"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
# MathJax 2 from the jupyter-server-mathjax package, copied into _static by tools/site.py
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
# That copy ships the STIX-Web fonts only, not MathJax's default TeX fonts.
mathjax2_config = {
    "showMathMenu": False,
    "messageStyle": "none",
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    "SVG": {"font": "STIX-Web"},
    # Sphinx marks its formulas with the class "math"; everything else on the page is left alone
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                "ignoreClass": "document", "processClass": "math|output_area"},
}
# check(...)'s verdict record is for the grading command; the page shows its text
suppress_warnings = ["mystnb.unknown_mime_type"]
