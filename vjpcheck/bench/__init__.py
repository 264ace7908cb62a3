"""``vjpcheck bench``: what users get from vjpcheck, against its floors and today's checkers.

- :mod:`.targets`: the functions timed (one with a closed-form vᵀJ, planted bugs to shrink);
- :mod:`.sizes`: per input size, vjpcheck's defaults and a stripped configuration beside
  ``gradcheck`` (slow, fast) and ``check_grads``, each as a ratio to its mode's floor;
- :mod:`.verify_times`: ``verify`` with defaults per function, each in a fresh process, and
  the time to shrink a bug present in every example;
- :mod:`.programs`: random-program throughput;
- :mod:`.plot`: the HTML page with an inline SVG chart.
"""
