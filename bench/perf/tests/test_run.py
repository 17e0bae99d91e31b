"""The load driver's arithmetic: wrk output parsing, flatness ratios, targets, report format, and
that its scenarios cover every filter of the app's FilterSet."""

from __future__ import annotations

import json

import pytest

from bench.perf import run
from saleschannel.customers.filters import CustomerFilter
from saleschannel.customers.selectors import JSON_FILTER_FIELDS

WRK_OK = """Running 3s test @ http://127.0.0.1:40000/api/v1/channel/1/customers/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    23.10ms    4.01ms  61.00ms   90.00%
    Req/Sec   347.00     20.00   380.00     80.00%
  Latency Distribution
     50%  850.00us
     75%   24.00ms
     90%   27.00ms
     99%    1.20s
  1041 requests in 3.00s, 1.20MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:    346.85
Transfer/sec:    409.00KB
"""
WRK_NOTHING = """Running 1s test @ http://127.0.0.1:40000/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 1.00s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""


def test_parse_wrk_reads_counts_rate_percentiles_and_errors():
    assert run.parse_wrk(WRK_OK) == {
        "requests": 1041,
        "rps": 346.85,
        "p50_ms": 0.85,
        "p99_ms": 1200.0,
        "non_2xx": 5,
        "timeouts": 2,
    }


def test_parse_wrk_without_an_answer_has_no_latency():
    parsed = run.parse_wrk(WRK_NOTHING)
    assert (parsed["requests"], parsed["rps"], parsed["p50_ms"], parsed["p99_ms"]) == (
        0,
        0.0,
        None,
        None,
    )
    assert (parsed["non_2xx"], parsed["timeouts"]) == (0, 0)


def measured(p50: float, rps: float) -> dict:
    run_result = {
        "requests": 100,
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p50 * 2,
        "non_2xx": 0,
        "timeouts": 0,
        "app_cpu_ms_per_req": 6.0,
        "db_cpu_ms_per_req": 2.0,
    }
    return {"latency": run_result, "throughput": run_result}


def scenario(name: str, channel: str, group: str, ours: tuple, stock: tuple) -> run.Scenario:
    s = run.Scenario(name, channel, group, "/")
    s.results = {"ours": measured(*ours), "stock": measured(*stock)}
    return s


@pytest.mark.parametrize(
    ("big_p50", "met"), [(7.5, True), (5.0, True), (7.51, False), (40.0, False)]
)
def test_flatness_is_big_p50_over_small_p50_and_met_up_to_one_and_a_half(big_p50, met):
    scenarios = [
        scenario("list page 1 limit 10", "1M", "core", (big_p50, 100), (30.0, 30)),
        scenario("list page 1 limit 10", "10k", "core", (5.0, 100), (6.0, 90)),
        scenario("filter gender", "1M", "filter", (5.0, 100), (30.0, 30)),
        scenario("filter gender", "10k", "filter", (5.0, 100), (6.0, 90)),
    ]

    flatness, targets = run.summarise(scenarios, ("1M", "10k"))

    rows = {f["scenario"]: f for f in flatness}
    assert rows["list page 1 limit 10"]["ours_ratio"] == pytest.approx(big_p50 / 5.0)
    assert rows["list page 1 limit 10"]["stock_ratio"] == pytest.approx(30.0 / 6.0)
    assert rows["list page 1 limit 10"]["met"] is met
    assert rows["filter gender"]["ours_ratio"] == pytest.approx(1.0)
    worst = next(t for t in targets if t["target"].startswith("flatness"))
    assert worst["value"] == pytest.approx(max(big_p50 / 5.0, 1.0))
    assert worst["met"] is met


def test_targets_compare_throughput_with_stock_and_cursor_latency_with_page_one():
    scenarios = [
        scenario("retrieve", "10k", "core", (3.0, 300), (6.0, 150)),
        scenario("retrieve", "1M", "core", (3.0, 290), (6.0, 150)),
        scenario("list page 1 limit 100", "10k", "core", (10.0, 100), (15.0, 60)),
        scenario("list page 1 limit 100", "1M", "core", (10.0, 100), (40.0, 25)),
        scenario("list page 1 limit 10", "1M", "core", (8.0, 150), (33.0, 3)),
        scenario("cursor deep page", "1M", "core", (16.0, 60), (70.0, 20)),
    ]

    _, targets = run.summarise(scenarios, ("1M", "10k"))

    by_goal = {t["target"]: (t["value"], t["met"]) for t in targets}
    assert by_goal["retrieve req/s vs stock (10k channel)"] == (2.0, True)
    assert by_goal["retrieve req/s vs stock (1M channel)"] == (pytest.approx(290 / 150), False)
    assert by_goal["list limit 100 req/s vs stock (10k channel)"] == (
        pytest.approx(100 / 60),
        False,
    )
    assert by_goal["list page 1 req/s vs stock (1M channel, limit 10)"] == (50.0, True)
    cursor = by_goal["cursor deep page p50 / page 1 p50 (limit 100, 1M channel)"]
    assert cursor == (1.6, False)


def test_report_json_has_one_line_per_list_item_and_reads_back_unchanged():
    report = {
        "date": "2026-01-01 00:00 UTC",
        "notes": [],
        "scenarios": [{"name": "a", "results": {"ours": {"rps": 1.5}}}, {"name": "b"}],
        "targets": [{"target": "t", "value": None, "met": False}],
    }

    text = run.dump_report(report)

    assert json.loads(text) == report
    lines = text.splitlines()
    assert '  {"name":"a","results":{"ours":{"rps":1.5}}},' in lines
    assert '  {"name":"b"}' in lines
    assert len(lines) == 11  # braces, 2 plain keys, 2 lists of (opening, items, closing)


def test_scenarios_exercise_every_filter_of_the_app():
    placeholder = run.ChannelProbe(
        id=1,
        label="1M",
        size=10,
        customer={
            "id": 5,
            "email": "ayse.yilmaz.5@example.com",
            "channel_code": "100000035",
            "phone_number": "+90 555 000 00 00",
            "first_name": "Ayse",
            "last_name": "Yilmaz",
            "erp_code": "ERP-123456",
            "created_date": run.dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=run.dt.UTC),
            "date_joined": run.dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=run.dt.UTC),
        },
        created_q90=run.dt.datetime(2026, 1, 1, tzinfo=run.dt.UTC),
        modified_q10=run.dt.datetime(2024, 1, 1, tzinfo=run.dt.UTC),
        pk_sample=[1, 2, 3],
    )
    used = {key.split("__")[0] for _, params in run.filter_params(placeholder) for key in params}
    declared = {name.split("__")[0] for name in CustomerFilter.base_filters} - {"sort", "pk"}

    assert declared | set(JSON_FILTER_FIELDS) <= used
    assert "pk__in" in {key for _, params in run.filter_params(placeholder) for key in params}


def test_customers_path_encodes_plus_signs_and_spaces():
    path = run.customers_path(3, params={"phone_number": "+90 555 000 00 00", "limit": 10})
    assert path == "/api/v1/channel/3/customers/?phone_number=%2B90+555+000+00+00&limit=10"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"pk": 1}, {"pk": 2}]', [1, 2]),
        (b'{"count": 2, "results": [{"pk": 3}], "next": null}', [3]),
        (b'{"pk": 4, "email": "x@example.com"}', 4),
    ],
)
def test_pks_reads_bare_lists_envelopes_and_objects(body, expected):
    assert run.pks(body) == expected


def test_orders_info_compares_exact_decimals_and_floats_as_numbers():
    ours = b'[{"pk": 1, "orders_info": {"total_order_count": 2, "total_order_amount": 10.10}}]'
    stock = b'{"results": [{"pk": 1, "orders_info": {"total_order_count": 2,'
    stock += b' "total_order_amount": 10.100000000000001}}]}'
    assert run.orders_info(ours) == run.orders_info(stock)
    assert run.orders_info(ours) == [{"total_order_count": 2.0, "total_order_amount": 10.1}]


def test_rerender_recomputes_flatness_and_writes_json_and_markdown(tmp_path):
    scenarios = [
        scenario("list page 1 limit 10", "1M", "core", (9.0, 100), (30.0, 30)),
        scenario("list page 1 limit 10", "10k", "core", (6.0, 100), (6.0, 90)),
    ]
    report = {
        "date": "2026-01-01 00:00 UTC",
        "mode": "full",
        "code": "abc1234",
        "machine": {"nproc": "2", "cpu": "x", "memory": "1 GiB", "kernel": "6"},
        "versions": {"django": "5.2"},
        "config": {"warmup_s": 1, "duration_s": 3},
        "dataset": {"big": 1_000_000, "small": 10_000, "orders": 3_000_000},
        "labels": ["1M", "10k"],
        "notes": [],
        "scenarios": [
            {
                "name": s.name,
                "channel": s.channel,
                "group": s.group,
                "path": s.path,
                "check": "ok",
                "note": "",
                "results": s.results,
            }
            for s in scenarios
        ],
        "flatness": [],
        "targets": [],
        "explain": [],
        "load_avg_start": 1.0,
        "load_avg_end": 1.0,
        "seconds": 60.0,
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(report))

    run.rerender(path)

    rewritten = json.loads(path.read_text())
    flat = next(f for f in rewritten["flatness"] if f["scenario"] == "list page 1 limit 10")
    assert (flat["ours_ratio"], flat["stock_ratio"], flat["met"]) == (1.5, 5.0, True)
    assert flat["ours_cpu_ratio"] == 1.0
    text = path.with_suffix(".md").read_text()
    assert "| list page 1 limit 10 | 9.00 | 6.00 | 1.50 | 5.00 | yes | 1.00 |" in text
    row = "| list page 1 limit 10 | 1M | 100 | 30 | 3.3x | 9.00 / 18.0 | 30.00 / 60.0 "
    assert row + "| 6.0+2.0 / 6.0+2.0 | ok |" in text


def test_parse_import_reads_measure_pys_report_line():
    line = (
        "import: 4,843 rows/s (1,000,000 rows in 206.5 s); peak RSS 78 MiB; CPU per row: "
        "command 49.8 us, PostgreSQL 78.5 us; {'created': 1000000, 'updated': 0, "
        "'unchanged': 0, 'failed': 0}"
    )
    parsed = run.parse_import(line)
    assert parsed == {
        "rows_per_second": 4843,
        "rows": 1_000_000,
        "seconds": 206.5,
        "peak_rss_mib": 78,
        "command_cpu_us_per_row": 49.8,
        "db_cpu_us_per_row": 78.5,
    }
    assert run.import_target(parsed)["met"] is False
    assert run.import_target(parsed | {"rows_per_second": 20_000})["met"] is True
    with pytest.raises(ValueError):
        run.parse_import("import failed")
