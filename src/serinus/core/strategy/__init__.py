"""The strategy state machine (pure): plans and `decide`."""
