"""Shared fixtures: tiny configs, HF PyTorch reference models with random weights, a tokenizer."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from roberta_lab import RobertaConfig  # noqa: E402

# HF's own TF RoBERTa test fixture: B=13, S=7, V=99, H=32, L=2, nh=4, I=37.
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=512, type_vocab_size=16,
            hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)


def tiny_config(**overrides) -> RobertaConfig:
    return RobertaConfig(**{**TINY, **overrides})


def random_ids(batch=13, seq=7, vocab=99, seed=0, avoid_pad=True):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(batch, seq)).astype(np.int32)
    if avoid_pad:
        ids[ids == 1] = 2
    return ids


def random_mask(batch=13, seq=7, seed=1):
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 2, size=(batch, seq)).astype(np.int32)
    mask[:, 0] = 1  # no fully masked rows: TF and PT define those differently
    return mask


def hf_model(kind: str, config: RobertaConfig, seed: int = 0):
    """A HF PyTorch RoBERTa with random weights, in eval mode (dropout off)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    hf_cfg = transformers.RobertaConfig(**config.to_dict())
    hf_cfg._attn_implementation = "eager"  # eager attention returns the probabilities
    cls = {"model": transformers.RobertaModel, "mlm": transformers.RobertaForMaskedLM,
           "causal": transformers.RobertaForCausalLM,
           "seqcls": transformers.RobertaForSequenceClassification,
           "tokcls": transformers.RobertaForTokenClassification,
           "qa": transformers.RobertaForQuestionAnswering,
           "mc": transformers.RobertaForMultipleChoice}[kind]
    model = cls(hf_cfg)
    # HF initialises LayerNorms to 1/0 and biases to 0: randomise them so parity means something.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def torch_inputs(**arrays):
    import torch

    def conv(v):
        a = np.asarray(v)
        return torch.tensor(a.astype(np.int64) if a.dtype.kind in "iu" else a)

    return {k: (conv(v) if v is not None else None) for k, v in arrays.items()}


def max_diff(a, b) -> float:
    a = a.numpy() if hasattr(a, "numpy") and not hasattr(a, "detach") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="session")
def tok_dir(tmp_path_factory):
    """A small byte-level BPE tokenizer in RoBERTa's format, trained here (no download)."""
    from tokenizers import ByteLevelBPETokenizer

    text = ["The capital of France is Paris.", "Hello, my dog is cute",
            "The keys to the cabinet are on the table.", "Monday comes before Tuesday.",
            "A robin is a bird and an oak is a tree."] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(text, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    from tokenizers import processors

    # As in roberta-base's tokenizer.json: a RoBERTa post-processor adds <s> ... </s>.
    bpe._tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    out = tmp_path_factory.mktemp("tok")
    bpe.save_model(str(out))
    bpe.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "RobertaTokenizer", "model_max_length": 510}\n')
    return out


# --- no test leaves a file outside its temporary folder (issue 15) -----------------------------
_TOOL_CACHES = {".git", ".hypothesis", ".pytest_cache", "__pycache__", ".ipynb_checkpoints",
                ".venv"}


def _tree(root: str) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (tool caches excluded): relative path -> (size, mtime)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _TOOL_CACHES and not d.startswith(".venv")]
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _generated(path: str, root: str) -> bool:
    top = path.split(os.sep)[0]
    shots = os.environ.get("ROBERTA_LAB_SCREENSHOTS")  # asked for: the browser test's pictures
    if shots and os.path.abspath(os.path.join(root, path)).startswith(
            os.path.join(os.path.abspath(shots), "")):
        return True
    return top in ("artifacts", "build", "dist") or top.endswith(".egg-info")


@pytest.fixture(scope="session", autouse=True)
def no_files_left_outside_tmp():
    """The checkout (and the folder pytest runs in) is the same after the session as before:
    tests write only under their tmp_path."""
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.getcwd()}
    before = {root: _tree(root) for root in roots}
    yield
    for root, old in before.items():
        new = _tree(root)
        # Build outputs, artifacts/ and a ROBERTA_LAB_SCREENSHOTS folder (the browser test's
        # screenshots) are products of the test run, not files a test left behind.
        changed = sorted(p for p in set(new) | set(old)
                         if new.get(p) != old.get(p) and not _generated(p, root))
        assert not changed, f"tests left or changed files outside their tmp folders: {changed[:10]}"
