"""The ``synchub`` command: ``main.py`` parses the arguments, one module per command."""
