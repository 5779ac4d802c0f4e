"""`python -m chatiq` runs the same CLI as the `chatiq` console script."""

from chatiq.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
