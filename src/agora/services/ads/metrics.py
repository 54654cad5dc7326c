"""The ads' business metrics (module-level: the Prometheus registry is process-global)."""

from __future__ import annotations

from prometheus_client import Counter

from agora.platform.observability.metrics import preinitialise

ads_served_total = Counter(
    "agora_ads_served_total",
    "Ads served to pages, by why they were chosen (category_and_keywords, category, keywords, generic).",
    ("reason",),
)

preinitialise(ads_served_total, "category_and_keywords", "category", "keywords", "generic")
