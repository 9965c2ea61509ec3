"""Pure rule evaluation: (member state, event, rules) -> (new state, outputs).

Nothing here does I/O or reads the wall clock; the Faust agents and the
offline replay both call :func:`engine.apply.apply_event`.
"""
