"""What several test files share: the repository's root, and keeping a browser page off the network."""

from pathlib import Path

from tools.slide_walk import refuse_the_network

ROOT = Path(__file__).resolve().parents[1]


# Let a Playwright page load only files and data URLs; it returns the list that collects the addresses of
# every other request, each of which is refused (the slide walks use it too).
keep_off_the_network = refuse_the_network
