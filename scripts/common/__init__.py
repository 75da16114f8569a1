"""The parts every tool shares, written once."""
