"""Generator configuration: validation, paper keys, presets, overrides."""

import pytest

from lolameme.data.api import generate_dataset, resolve_config
from lolameme.data.generator import GeneratorConfig, load_config
from lolameme.data.presets import get_preset, list_presets
from lolameme.errors import ConfigError

# The paper's appendix A.1 dict as printed (typos included), with its tuple.
PAPER_BASECONFIG = {
    "LANGUAGE": "LOLA",
    "OPERATORS.LOLA": ["+", "-", "*", "%"],
    "OPERATORS.MEME": ["|", "!", "@", "/"],
    "GROUPING.LOLA": ["(", ")"],
    "GROUPING.MEME": ["{", "}"],
    "CASE.LOLA": "camel",
    "CASE.MEME": "snake",
    "VAR_NAME_UNDERSCORE_PROBABILITY": 0.5,
    "LATENT_CARACTER_ASCILA": 23,
    "LATENT_CARACTER_ASCILB": -1,
    "LATENT_CARACTER_ASCILC": -1,
    "LATENT_VARIABLE_PROBABILITY": (0.3, 0.4),
    "LATENT_TYPE_A_MODIFICATION": "*2",
    "LATENT_TYPE_B_MODIFICATION": "/2",
    "LATENT_TYPE_C_MODIFICATION": "/2",
    "GLOBALVAR_COUNT": 500,
    "LOCAL_VAR_COUNT": 10,
    "STATEMENT_COUNT": 5,
    "EXPRESSION_MIN_DEPTH": 1,
    "EXPRESSION_MAX_DEPTH": 2,
    "MIN-VAR-LENGTH": 3,
    "MAX_VAR_LENGTH": 10,
    "MIN_INT_VALUE": 1,
    "MAX_INT_VALUE": 100,
    "DATASET_SIZE": int(1e5),
    "TEST_DATASET_SIZE": int(1e4),
    "GLOBAL_VARIABLES_NUM_APPEARANCE": 1000,
    "USE_FAKER": False,
}


def test_paper_dict_equals_base_preset():
    assert load_config({}, PAPER_BASECONFIG) == resolve_config("base")[1]
    assert load_config(get_preset("base").config, {}) == load_config({}, {})  # defaults are A.1


def test_paper_keys_in_nested_form_and_mixed_with_snake_case():
    config = load_config({"statement_count": 7}, {"OPERATORS": {"LOLA": ["+", "*"]}, "OPERATORS.MEME": ["|", "@"]})
    assert config.operators == {"lola": ["+", "*"], "meme": ["|", "@"]}
    assert config.op_codes == [0, 2]
    assert config.statement_count == 7


@pytest.mark.parametrize("overrides, key, value", [
    ({"statment_count": 5}, "statment_count", "statement_count"),                 # unknown key, with a hint
    ({"statement_count": "five"}, "statement_count", "five"),                     # wrong type
    ({"use_faker": "yes"}, "use_faker", "yes"),
    ({"dataset_size": True}, "dataset_size", "True"),                              # bool is not an int
    ({"expression_min_depth": 3}, "expression_min_depth", "3"),                    # min > max
    ({"min_int_value": 50, "max_int_value": 10}, "min_int_value", "50"),
    ({"min_var_length": 6, "max_var_length": 4}, "min_var_length", "6"),
    ({"min_var_length": 1, "max_var_length": 1, "global_var_count": 0, "local_var_count": 20},
     "local_var_count", "20"),                                                     # more locals than names
    ({"var_name_underscore_probability": 1.5}, "var_name_underscore_probability", "1.5"),
    ({"latent_type_probability": [0.7, 0.6]}, "latent_type_probability", "[0.7, 0.6]"),
    ({"latent_type_probability": [-0.1, 0.4]}, "latent_type_probability", "[-0.1, 0.4]"),
    ({"latent_boundary_a": 0}, "latent_type_probability", "[0.3, 0.4]"),           # type A has no letters
    ({"latent_type_b_modification": "^2"}, "latent_type_b_modification", "^2"),
    ({"operators": {"lola": ["+", "^"]}}, "operators.lola", "^"),
    ({"operators": {"lola": ["+"]}}, "operators.meme", "'|'"),                    # dialects disagree
    ({"grouping": {"lola": ["[", "]"]}}, "grouping.lola", "["),
    ({"case": {"meme": "camel"}}, "case.meme", "camel"),
    ({"language": "python"}, "language", "python"),
    ({"mean_var_length": 5, "min_var_length": 2}, "min_var_length", "2"),
    ({"local_var_count": 0}, "local_var_count", "0"),
    ({"seed": -1}, "seed", "-1"),
    ({"constant_probability": 0.9, "local_read_probability": 0.1}, "constant_probability", "0.9"),  # no globals read
])
def test_bad_values_are_rejected_naming_key_and_value_and_write_nothing(tmp_path, overrides, key, value):
    out = tmp_path / "never"
    with pytest.raises(ConfigError) as error:
        generate_dataset("base", out, overrides=overrides)
    message = str(error.value)
    assert key in message and value in message, message
    assert not out.exists()


def test_same_setting_given_twice_in_one_source_is_rejected():
    with pytest.raises(ConfigError, match="GLOBALVAR_COUNT"):
        load_config({}, {"GLOBALVAR_COUNT": 10, "global_var_count": 20})


def test_mean_var_length_follows_paper_rounding():
    for mean, bounds in [(3, (2, 4)), (4, (3, 5)), (6, (4, 8)), (9, (7, 11))]:
        assert load_config({}, {"mean_var_length": mean}).var_length_bounds == bounds
    # a preset's mean yields to min/max given as overrides, and the other way round
    config = load_config(get_preset("variable-length").config, {"min_var_length": 2, "max_var_length": 3})
    assert config.var_length_bounds == (2, 3)
    assert load_config(get_preset("base").config, {"mean_var_length": 4}).var_length_bounds == (3, 5)


def test_every_paper_preset_exists_validates_and_overrides_key_by_key():
    names = {p.name for p in list_presets() if p.task == "lolameme"}
    assert {"base", "memorization", "variable-length", "long-input", "operator-pretraining", "mixing"} <= names
    for name in names:
        config = resolve_config(name, {"seed": 3})[1]
        assert isinstance(config, GeneratorConfig) and config.seed == 3
    assert resolve_config("memorization", {"global_var_count": 1000})[1].global_var_count == 1000
    assert resolve_config("long-input")[1].statement_count == 15
    assert resolve_config("operator-pretraining")[1].global_var_count == 0
    assert resolve_config("operator-pretraining")[1].dataset_size == 40_000_000
    assert resolve_config("variable-length")[1].latent_type_a_modification == ""
    assert resolve_config("mixing")[1].language == "mixed"


def test_paper_dict_from_a_json_or_yaml_config_file(tmp_path):
    import json

    import yaml

    as_json = tmp_path / "paper.json"
    as_json.write_text(json.dumps({"task": "lolameme", **PAPER_BASECONFIG}))
    as_yaml = tmp_path / "paper.yaml"
    as_yaml.write_text(yaml.safe_dump({"preset": "base", **PAPER_BASECONFIG, "STATEMENT_COUNT": 7}))
    assert resolve_config(config_file=as_json) == ("lolameme", resolve_config("base")[1])
    assert resolve_config(config_file=as_yaml)[1].statement_count == 7


def test_mean_name_length_and_contradicting_bounds_are_rejected_and_a_dump_reloads():
    from lolameme.data.generator.config import load_config

    with pytest.raises(ConfigError, match="max_var_length.*not both"):
        load_config({}, {"mean_var_length": 8, "max_var_length": 3})
    config = load_config({}, {"mean_var_length": 8})
    assert (config.min_var_length, config.max_var_length) == config.var_length_bounds == (6, 10)
    assert load_config({}, config.model_dump()) == config  # a manifest's config round-trips
