"""``python -m alsek worker PACKAGE [options]`` (and every other CLI command)."""

from alsek.cli import main

if __name__ == "__main__":
    main()
