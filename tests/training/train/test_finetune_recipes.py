"""The recipes in training/recipes: they parse, name settings that exist in transformers and
peft, and target modules their base models have."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mpi_classifier.backends.local import load_base, peft_quirks
from mpi_training.train.finetune import lora_config, training_arguments
from mpi_training.train.recipes import RECIPES_DIR, load_recipe, parse_recipe

SHIPPED = sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def test_the_three_recipes_ship():
    assert {"medgemma-4b", "cpu-small", "tiny-test"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_recipe_makes_trainer_and_lora_settings(name, tmp_path):
    recipe = load_recipe(name)

    args = training_arguments(recipe, tmp_path)
    lora = lora_config(recipe)

    assert args.metric_for_best_model == "f1"
    assert args.load_best_model_at_end
    assert args.train_sampling_strategy == "group_by_length"
    assert args.learning_rate == recipe.training.learning_rate
    assert lora.task_type == "SEQ_CLS"
    assert set(lora.target_modules) == set(recipe.lora.target_modules)


def test_a_recipe_is_found_by_path_too():
    assert load_recipe(RECIPES_DIR / "cpu-small.toml") == load_recipe("cpu-small")


def test_an_unknown_recipe_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="cpu-small"):
        load_recipe("no-such-recipe")


def test_a_misspelt_setting_is_refused():
    text = (RECIPES_DIR / "tiny-test.toml").read_text().replace("learning_rate", "learnin_rate")

    with pytest.raises(ValidationError, match="learnin_rate"):
        parse_recipe(text)


def test_medgemma_recipe_matches_clinfuse_and_targets_gemma3_modules(gemma3_base):
    from peft import get_peft_model
    from transformers import AutoModelForSequenceClassification

    recipe = load_recipe("medgemma-4b")
    model = AutoModelForSequenceClassification.from_pretrained(gemma3_base)

    with peft_quirks():
        peft_model = get_peft_model(model, lora_config(recipe))

    assert (recipe.lora.r, recipe.lora.alpha, recipe.lora.dropout) == (16, 32, 0.05)
    assert recipe.max_length == 2048
    assert recipe.training.bf16
    assert recipe.training.gradient_checkpointing
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    for module in recipe.lora.target_modules:
        assert any(f"{module}.lora_A" in name for name in trainable), module
    assert any("score" in name for name in trainable)


def test_cpu_small_trains_the_top_layers_whole_and_stays_small_enough_to_ship():
    from peft import get_peft_model

    recipe = load_recipe("cpu-small")
    model, _ = load_base()

    with peft_quirks():
        peft_model = get_peft_model(model, lora_config(recipe))

    trainable = {n: p.numel() for n, p in peft_model.named_parameters() if p.requires_grad}
    # Float32 weights under the repository's 20 MB limit per file.
    assert sum(trainable.values()) * 4 < 20_000_000
    lora_layers = {int(n.split("layer.")[1].split(".")[0]) for n in trainable if "lora_" in n}
    assert lora_layers == {0, 1, 2, 3}
    for whole in ("layer.4.", "layer.5.", "pooler.", "classifier."):
        assert any(whole in n and "modules_to_save" in n for n in trainable), whole
