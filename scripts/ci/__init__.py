"""`just test`'s stage runner: each test recipe in turn, the fuzzing beside them, the times."""
