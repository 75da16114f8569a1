"""Tests of the cluster tools (scripts/cluster/)."""
