from prometheus_client.parser import text_string_to_metric_families

from agora.platform.observability.metrics import merge_metrics

EXPOSITION = """# HELP jobs_total Jobs.
# TYPE jobs_total counter
jobs_total{kind="a"} 3.0
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="1.0"} 1.0
latency_seconds_bucket{le="+Inf"} 2.0
latency_seconds_count 2.0
latency_seconds_sum 0.5
"""


def test_merged_exposition_is_valid_and_keeps_processes_apart() -> None:
    body, _ = merge_metrics({"one": EXPOSITION, "two": EXPOSITION.replace("3.0", "7.0"), "down": ""})
    text = body.decode()
    assert text.count("# TYPE jobs_total counter") == 1
    families = {family.name: family for family in text_string_to_metric_families(text)}
    jobs = {sample.labels["process"]: sample.value for sample in families["jobs"].samples}
    assert jobs == {"one": 3.0, "two": 7.0}
    assert {s.labels["process"] for s in families["latency_seconds"].samples} == {"one", "two"}
