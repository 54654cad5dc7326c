"""One module per part of the site, each with its own ``router``."""
