import pytest

from tools import archive_insert, evaluator, query_nb201
from memory.archive import Archive
from spaces import get

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_query_returns_validation_metrics_only():
    result = query_nb201.tool.invoke({"arch": ARCH, "dataset": "cifar100", "device": "fpga"})
    assert result["val_acc"] == pytest.approx(get("nb201").evaluate(ARCH, "cifar100").val_acc)
    assert result["latency_ms"] > 0
    assert "test_acc" not in result


def test_tool_schema_is_typed():
    schema = query_nb201.tool.args_schema.model_json_schema()
    assert schema["properties"]["dataset"]["enum"] == ["cifar10", "cifar100", "imagenet16"]


def test_evaluator_for_space():
    space = get("nb201")
    tool = evaluator(space)
    assert tool.name == "query_nb201" and evaluator(space) is tool  # built once per space instance
    assert tool.invoke({"arch": ARCH, "dataset": "cifar10"})["val_acc"] == space.evaluate(ARCH, "cifar10").val_acc
    assert evaluator(get("transnas101")).name == "query_transnas101"


def test_archive_insert_tool_binds_one_archive():
    archive = Archive()
    tool = archive_insert.make_tool(archive, get("nb201"))
    assert tool.invoke({"arch": ARCH, "fitness": 91.0})["status"] == "NEW"
    assert tool.invoke({"arch": ARCH, "fitness": 90.0})["status"] == "NOT_ADDED"
    assert tool.invoke({"arch": ARCH, "fitness": 92.0})["status"] == "IMPROVE_EXISTING"
    assert archive.best().fitness == 92.0
