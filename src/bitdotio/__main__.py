"""``python -m bitdotio``: the ``bit`` CLI."""

from bitdotio.cli import main

if __name__ == "__main__":
    main()
