"""Unit tests of the Python tools' pure parts (`just test-python`): what they compute from
files, answers and counts, without a stack. A package under scripts/, so that pytest puts the
repository's root on sys.path and the tests import the tools as they import each other."""
