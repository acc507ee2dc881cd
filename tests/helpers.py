"""What several test files share: the repository's root, and keeping a browser page off the network."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def keep_off_the_network(page) -> list[str]:
    """Let `page` (Playwright) load only files and data URLs; return the list that collects the addresses
    of every other request, each of which is refused."""
    remote: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            remote.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return remote
