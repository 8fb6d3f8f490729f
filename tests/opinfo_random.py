"""The random samplers: not fuzzed value by value against torch (its generator is another
algorithm); tests/test_random.py checks their distributions, shapes, dtypes, generators and
errors."""
_REASON = ("random: torch's generator draws other numbers; distributions, shapes, dtypes, "
           "generators and errors are tested in tests/test_random.py")
TABLE = []
EXCLUDED = {name: _REASON for name in (
    "bernoulli", "multinomial", "poisson", "normal", "rand_like", "randn_like", "randint_like",
    "normal_", "uniform_", "bernoulli_", "exponential_", "geometric_", "random_")}
