"""The built-in checks that ``vjpcheck run`` executes through pytest (and pytest-xdist)."""
