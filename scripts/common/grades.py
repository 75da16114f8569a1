"""The grades the load tests post: the brief's payload with random values.

Shared by locust/locustfile.py, scripts/bench.py (which writes them to a file for oha) and
scripts/chaos/, so every tool loads the stack with the same mix of students, courses and
terms.
"""

import random

from scripts.common.contract import COURSES, SEMESTERS

# The brief's load generator sends 50..100 in steps of 10.
GRADES = list(range(50, 101, 10))


def random_grade(rng=random) -> dict:
    """One grade; `rng` is a `random.Random` for a repeatable sequence."""
    carnet = rng.randint(201_900_000, 202_399_999)
    return {
        "carnet": carnet,
        "nombre": f"Alumno {carnet % 10_000}",
        "curso": rng.choice(COURSES),
        "nota": rng.choice(GRADES),
        "semestre": rng.choice(SEMESTERS),
        "year": 2023,
    }
