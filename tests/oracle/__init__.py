"""Independent plain-Python reference implementations (test oracles) of the metrics specification."""
