"""``agora loadtest``: shoppers walking weighted journeys against any Agora URL, and a report.

Why a package of agora (not a top-level ``loadtest/`` folder beside ``benchmarks/``): the command
ships with the distribution, so the container image runs it too, and the cluster's traffic
generator (the CronJob in ``deploy/k8s/base/traffic.yaml``) walks the same journeys as a developer
does on a laptop.

* :mod:`.journeys` is the Locust file: the shoppers and their journeys. Locust runs it in a
  process of its own and nothing in agora imports it: Locust patches the standard library with
  gevent at start, and importing it into a process that already loaded ssl (httpx, the services)
  ends in RecursionError.
* :mod:`.runner` checks the arguments, starts that process (``python -m locust --headless``),
  shows its progress from the statistics Locust writes every second, and stops it in time.
* :mod:`.report` turns Locust's CSV files into the report: throughput, p50/p95/p99 per endpoint
  and per journey, errors, plots over time (PNG, and an HTML page that embeds them).

Needs the ``loadtest`` extra (``pip install 'agora[loadtest]'``: locust and matplotlib).
"""
