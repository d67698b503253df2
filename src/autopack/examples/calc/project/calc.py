"""A tiny calculator module: the starting point of the autopack demo."""


def add(a: float, b: float) -> float:
    return a + b


def subtract(a: float, b: float) -> float:
    return a - b
