"""The chart filters: inline SVG that parses, with a line broken at each gap and every text escaped."""
from xml.etree import ElementTree

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.ops.plugins.filter.charts import bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg):
    return ElementTree.fromstring(svg)


def test_a_gap_breaks_the_line_and_a_lone_reading_is_a_dot():
    chart = parsed(line_chart({"median": [120, 130, None, 140, 150, None, 90], "p95": [300, 310, 320, 330, 340, 350, 360]},
                              "Response time", "ms", labels=[f"{hour:02d}:00" for hour in range(7)]))
    lines = chart.findall(f"{SVG}polyline")
    # median: two segments (120-130, 140-150) and one dot (90); p95: one line of seven points.
    assert [len(line.get("points").split()) for line in lines] == [2, 2, 7]
    assert len(chart.findall(f"{SVG}circle")) == 1
    texts = [text.text for text in chart.findall(f"{SVG}text")]
    assert "Response time (ms)" in texts and {"00:00", "03:00", "06:00"} <= set(texts)


def test_text_from_the_data_is_escaped_and_japanese_stays():
    chart = parsed(bar_chart({"P1 <script>": 2, "重大": 1}, "インシデント & 重大度"))
    texts = [text.text for text in chart.findall(f"{SVG}text")]
    assert "インシデント & 重大度" in texts and "P1 <script>" in texts
    assert chart.find(f"{SVG}title").text == "インシデント & 重大度"
    assert len(chart.findall(f"{SVG}rect")) == 2


def test_bars_are_as_tall_as_their_values():
    chart = parsed(bar_chart({"P1": 1, "P2": 2, "P3": 0}, "Incidents"))
    heights = [float(rect.get("height")) for rect in chart.findall(f"{SVG}rect")]
    # (Coordinates are written to a tenth of a unit.)
    assert heights[1] == pytest.approx(2 * heights[0], abs=0.2) and heights[2] == 0


@pytest.mark.parametrize("call", [
    lambda: line_chart({}, "Empty"),
    lambda: line_chart({"a": ["fast"]}, "Words"),
    lambda: bar_chart([1, 2], "Not a dictionary"),
])
def test_bad_data_is_refused_with_a_message(call):
    with pytest.raises(AnsibleFilterError):
        call()
