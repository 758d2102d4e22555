"""Train the bundled small models with roberta_lab's own classes.

    python -m roberta_lab.training.train mlm     --out data/mini-mlm     [--steps N] [--seed 0]
    python -m roberta_lab.training.train causal  --out data/mini-causal  [--steps N]
    python -m roberta_lab.training.train seq2seq --out data/mini-seq2seq [--steps N]
    python -m roberta_lab.training.train grammar --out data/mini-grammar --init data/mini-mlm

A ``tf.function``-compiled step (GradientTape, keras AdamW, linear warmup then linear decay,
global-norm clipping at 1.0) on fixed-shape batches, so the step traces once. Seeds are fixed with
``keras.utils.set_random_seed``. The model (and the tokenizer) is saved every ``--ckpt-minutes``
minutes, so an interrupted run still leaves a usable folder, and at the end, with a
``training_log.json`` (config, steps, final loss, wall time, the command).

Data: ``data/corpus/train.txt`` for mlm/causal, ``data/corpus/seq2seq_train.tsv`` for seq2seq.
Lines are packed whole into rows of ``--seq-len`` tokens: ``<s> line </s> line </s> ... <pad>``
(RoBERTa's FULL-SENTENCES style, without splitting a line). The masked-LM uses RoBERTa's dynamic
masking: 15% of the non-special tokens are chosen afresh for every batch; of those 80% become
``<mask>``, 10% a random token and 10% stay. The LM head is applied to the chosen positions only
(the loss is the same as the model's own masked-LM loss; the other logits are never needed).
The causal LM can mix in repeated random token spans (``--repeat-frac``, ``induction.add_repeats``:
drawn from the run's seeded generator, the first copy left out of the loss) to train induction heads.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from roberta_lab.training import grow  # noqa: E402
from roberta_lab.training.induction import add_repeats  # noqa: E402

BOS, PAD, EOS, UNK, MASK = 0, 1, 2, 3, 4
N_SPECIAL = 5  # ids below this are special tokens
TOKENIZER_DIR = "data/tokenizer"
CORPUS_DIR = "data/corpus"

# The bundled models' shapes (see data/README.md).
MLM_CONFIG = dict(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=8,
                  intermediate_size=1024, max_position_embeddings=130, type_vocab_size=1,
                  layer_norm_eps=1e-5)
CAUSAL_CONFIG = dict(vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                     intermediate_size=1024, max_position_embeddings=130, type_vocab_size=1,
                     layer_norm_eps=1e-5, is_decoder=True)
SEQ2SEQ_CONFIG = dict(vocab_size=8192, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=512, max_position_embeddings=34, type_vocab_size=1,
                      layer_norm_eps=1e-5)

DEFAULTS = {  # task -> (steps, batch, seq_len, peak lr)
    "mlm": (3000, 64, 64, 1e-3),
    "causal": (1500, 64, 64, 1e-3),
    "seq2seq": (3000, 128, 16, 2e-3),
    "grammar": (300, 32, 24, 1e-4),  # fine-tuning a classifier: roberta_lab.training.classify_task
}


# --------------------------------------------------------------------------- data


def load_tokenizer(path=TOKENIZER_DIR):
    from roberta_lab import AutoTokenizer
    return AutoTokenizer.from_pretrained(path)


def encode_lines(tok, lines):
    """Token ids of each line, without special tokens (fast batch encode)."""
    enc = tok(list(lines), add_special_tokens=False, return_attention_mask=False)
    return enc["input_ids"]


def pack_lines(ids_per_line, seq_len, rng=None):
    """Pack whole lines into rows ``<s> a </s> b </s> ... <pad>`` of exactly ``seq_len`` ids.

    Lines longer than ``seq_len - 2`` are truncated. With ``rng`` the line order is shuffled first.
    Returns int32 [rows, seq_len].
    """
    order = np.arange(len(ids_per_line))
    if rng is not None:
        rng.shuffle(order)
    rows, cur = [], [BOS]
    for i in order:
        line = list(ids_per_line[i])[: seq_len - 2]
        if not line:
            continue
        if len(cur) + len(line) + 1 > seq_len:
            rows.append(cur + [PAD] * (seq_len - len(cur)))
            cur = [BOS]
        cur += line + [EOS]
    if len(cur) > 1:
        rows.append(cur + [PAD] * (seq_len - len(cur)))
    return np.asarray(rows, dtype=np.int32)


def pad_rows(ids_per_line, seq_len):
    """One line per row: ``<s> line </s> <pad>...`` (truncated to fit). int32 [n, seq_len]."""
    out = np.full((len(ids_per_line), seq_len), PAD, dtype=np.int32)
    for r, line in enumerate(ids_per_line):
        row = [BOS] + list(line)[: seq_len - 2] + [EOS]
        out[r, : len(row)] = row
    return out


def mlm_mask(ids, rng, vocab_size, prob=0.15):
    """RoBERTa's dynamic masking. Returns (inputs, labels), labels -100 where not predicted."""
    ids = np.asarray(ids)
    maskable = ids >= N_SPECIAL
    chosen = (rng.random(ids.shape) < prob) & maskable
    labels = np.where(chosen, ids, -100).astype(np.int32)
    inputs = ids.copy()
    r = rng.random(ids.shape)
    inputs[chosen & (r < 0.8)] = MASK
    rand = chosen & (r >= 0.8) & (r < 0.9)
    inputs[rand] = rng.integers(N_SPECIAL, vocab_size, size=int(rand.sum()))
    return inputs.astype(np.int32), labels


def gather_masked(labels, k):
    """Fixed-size view of the masked positions: flat indices [k] and their labels [k].

    Positions beyond the first ``k`` chosen ones are dropped (rare with k = 20% of the batch);
    unused slots point at position 0 with label -100. Fixed shapes keep the step traced once.
    """
    flat = labels.reshape(-1)
    pos = np.flatnonzero(flat != -100)[:k]
    out_pos = np.zeros(k, np.int32)
    out_lab = np.full(k, -100, np.int32)
    out_pos[: len(pos)] = pos
    out_lab[: len(pos)] = flat[pos]
    return out_pos, out_lab


def causal_labels(ids):
    return np.where(ids == PAD, -100, ids).astype(np.int32)


def read_lines(path, limit=None):
    with open(path, encoding="utf-8") as fh:
        lines = [ln.rstrip("\n") for ln in fh if ln.strip()]
    return lines[:limit] if limit else lines


def seq2seq_arrays(tok, pairs, seq_len):
    """(src_ids, dec_ids) int32 [n, seq_len], each ``<s> letters </s>`` padded."""
    src = pad_rows(encode_lines(tok, [s for s, _ in pairs]), seq_len)
    tgt = pad_rows(encode_lines(tok, [t for _, t in pairs]), seq_len)
    return src, tgt


# --------------------------------------------------------------------------- models


def _no_autograph(fn):
    import tensorflow as tf
    return tf.autograph.experimental.do_not_convert(fn)


@_no_autograph
def mlm_trunk_and_head(model, ids, mask, training):
    """Hidden states of the masked-LM trunk, and a function applying the LM head.

    Uses the model's own layers (``roberta`` + ``lm_head``) so the head can be applied to the
    masked positions only.
    """
    inputs = model.prepare_inputs(ids, attention_mask=mask)
    hidden = model.roberta.call(inputs, training=training)["last_hidden_state"]
    return hidden, model.lm_head


def make_schedule(peak, warmup_frac):
    """Linear warmup to ``peak`` over the first ``warmup_frac`` of training, then linear decay
    to 0 at the end. Training progress (0..1) is a variable the loop sets before each step:
    ``max(step / steps, elapsed / max_time)``, so a run stopped by ``--max-minutes`` still ends
    its schedule at 0 rather than being cut off at a high learning rate.
    """
    import keras
    import tensorflow as tf

    progress = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="progress")

    class _Sched(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            p = tf.convert_to_tensor(progress)
            w = max(warmup_frac, 1e-6)
            up = peak * p / w
            down = peak * tf.maximum(0.0, (1.0 - p) / (1.0 - w))
            return tf.where(p < w, up, down)

        def get_config(self):
            return {"peak": peak, "warmup_frac": warmup_frac}

    return _Sched(), progress


def make_optimizer(lr, warmup_frac, weight_decay):
    import keras
    sched, progress = make_schedule(lr, warmup_frac)
    opt = keras.optimizers.AdamW(learning_rate=sched, weight_decay=weight_decay,
                                 beta_1=0.9, beta_2=0.98, epsilon=1e-6)
    opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return opt, sched, progress


# --------------------------------------------------------------------------- training loop


class Trainer:
    def __init__(self, args):
        import keras
        import tensorflow as tf
        self.tf, self.keras, self.args = tf, keras, args
        keras.utils.set_random_seed(args.seed)
        self.rng = np.random.default_rng(args.seed)
        self.tok = load_tokenizer(args.tokenizer)
        self.t_start = time.time()
        self.last_ckpt = time.time()

    # -- build per task
    def build(self):
        from roberta_lab import RobertaConfig, TFRobertaForCausalLM, TFRobertaForMaskedLM, TFRobertaModel
        a = self.args
        drop = dict(hidden_dropout_prob=a.dropout, attention_probs_dropout_prob=a.dropout)
        if a.task == "mlm":
            shape = {k: v for k, v in (("num_hidden_layers", a.layers), ("hidden_size", a.hidden),
                                       ("num_attention_heads", a.heads),
                                       ("intermediate_size", a.intermediate)) if v}
            self.cfg = RobertaConfig(**{**MLM_CONFIG, **shape}, **drop)
            self.model = TFRobertaForMaskedLM(self.cfg)
            self.models = [self.model]
        elif a.task == "causal":
            self.cfg = RobertaConfig(**CAUSAL_CONFIG, **drop)
            self.model = TFRobertaForCausalLM(self.cfg)
            self.models = [self.model]
        else:
            self.cfg_enc = RobertaConfig(**SEQ2SEQ_CONFIG, **drop)
            self.cfg_dec = RobertaConfig(**SEQ2SEQ_CONFIG, **drop, is_decoder=True,
                                         add_cross_attention=True)
            self.encoder = TFRobertaModel(self.cfg_enc, add_pooling_layer=False)
            self.decoder = TFRobertaForCausalLM(self.cfg_dec)
            self.models = [self.encoder, self.decoder]
        if a.init:  # continue from saved weights (a fresh optimiser and schedule)
            from roberta_lab import checkpoint
            subdirs = ["encoder", "decoder"] if a.task == "seq2seq" else [""]
            for m, sub in zip(self.models, subdirs):
                state = checkpoint.read_state(os.path.join(a.init, sub))
                if a.task == "mlm" and self.cfg.num_hidden_layers > grow.n_layers(state):
                    state = grow.stack_layers(state, self.cfg.num_hidden_layers)
                    print(f"stacked {a.init}'s layers to {self.cfg.num_hidden_layers}", flush=True)
                info = checkpoint.load_state(m, state)
                print(f"initialised from {os.path.join(a.init, sub)}: {info}", flush=True)
        self.variables = [v for m in self.models for v in m.trainable_variables]
        self.opt, self.sched, self.progress = make_optimizer(a.lr, a.warmup, a.weight_decay)
        self.opt.build(self.variables)
        self.n_params = int(sum(np.prod(v.shape) for v in self.variables))

    def load_data(self):
        a = self.args
        t0 = time.time()
        if a.task in ("mlm", "causal"):
            lines = read_lines(os.path.join(a.corpus, "train.txt"), a.max_lines)
            self.line_ids = encode_lines(self.tok, lines)
            self.rows = pack_lines(self.line_ids, a.seq_len, self.rng)
            n_tok = int((self.rows != PAD).sum())
            print(f"data: {len(lines)} lines -> {len(self.rows)} packed rows of {a.seq_len} "
                  f"({n_tok} tokens, {n_tok / self.rows.size:.1%} non-pad) in {time.time() - t0:.1f}s",
                  flush=True)
        else:
            from roberta_lab.training import seq2seq_task
            pairs = seq2seq_task.read_pairs(os.path.join(a.corpus, "seq2seq_train.tsv"))
            self.src, self.tgt = seq2seq_arrays(self.tok, pairs, a.seq_len)
            self.rows = self.src
            print(f"data: {len(pairs)} pairs in {time.time() - t0:.1f}s", flush=True)
        self.k_masked = int(math.ceil(0.2 * a.batch * a.seq_len))
        self.epoch, self.pos, self.order = 0, 0, self.rng.permutation(len(self.rows))

    def next_indices(self):
        b = self.args.batch
        if self.pos + b > len(self.order):
            self.epoch += 1
            if self.args.task in ("mlm", "causal"):  # re-pack with a new line order
                self.rows = pack_lines(self.line_ids, self.args.seq_len, self.rng)
            self.order, self.pos = self.rng.permutation(len(self.rows)), 0
        idx = self.order[self.pos:self.pos + b]
        self.pos += b
        return idx

    def next_batch(self):
        idx = self.next_indices()
        if self.args.task == "mlm":
            ids = self.rows[idx]
            inputs, labels = mlm_mask(ids, self.rng, self.cfg.vocab_size)
            pos, lab = gather_masked(labels, self.k_masked)
            return inputs, (ids != PAD).astype(np.int32), pos, lab
        if self.args.task == "causal":
            a = self.args
            ids, first = add_repeats(self.rows[idx], self.rng, a.repeat_frac, a.repeat_min,
                                     a.repeat_max, self.cfg.vocab_size)
            labels = causal_labels(ids)
            labels[first] = -100
            return ids, (ids != PAD).astype(np.int32), labels
        src, tgt = self.src[idx], self.tgt[idx]
        return src, (src != PAD).astype(np.int32), tgt, (tgt != PAD).astype(np.int32), causal_labels(tgt)

    # -- the compiled step
    def make_step(self):
        tf, a = self.tf, self.args
        variables, opt = self.variables, self.opt

        def apply(loss, tape):
            grads = tape.gradient(loss, variables)
            grads, norm = tf.clip_by_global_norm(grads, a.clip)
            opt.apply_gradients(zip(grads, variables))
            return norm

        if a.task == "mlm":
            model = self.model

            def step(ids, mask, pos, labels):
                with tf.GradientTape() as tape:
                    hidden, head = mlm_trunk_and_head(model, ids, mask, training=True)
                    flat = tf.reshape(hidden, [-1, hidden.shape[-1]])
                    logits = head(tf.gather(flat, pos))  # [k, vocab]
                    per_tok = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        tf.nn.relu(labels), logits)
                    w = tf.cast(tf.not_equal(labels, -100), per_tok.dtype)
                    loss = tf.reduce_sum(per_tok * w) / tf.maximum(tf.reduce_sum(w), 1.0)
                norm = apply(loss, tape)
                return loss, norm, tf.reduce_sum(mask)
        elif a.task == "causal":
            model = self.model

            def step(ids, mask, labels):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(model(ids, attention_mask=mask, labels=labels, training=True).loss)
                norm = apply(loss, tape)
                return loss, norm, tf.reduce_sum(mask)
        else:
            enc, dec = self.encoder, self.decoder

            def step(src, src_mask, tgt, tgt_mask, labels):
                with tf.GradientTape() as tape:
                    h = enc(src, attention_mask=src_mask, training=True).last_hidden_state
                    loss = tf.reduce_mean(dec(tgt, attention_mask=tgt_mask, encoder_hidden_states=h,
                               encoder_attention_mask=src_mask, labels=labels, training=True).loss)
                norm = apply(loss, tape)
                return loss, norm, tf.reduce_sum(src_mask) + tf.reduce_sum(tgt_mask)

        return tf.function(step, jit_compile=a.jit, reduce_retracing=True)

    # -- saving
    def save(self, final=False, extra=None):
        a = self.args
        os.makedirs(a.out, exist_ok=True)
        if a.task == "seq2seq":
            self.encoder.save_pretrained(os.path.join(a.out, "encoder"))
            self.decoder.save_pretrained(os.path.join(a.out, "decoder"))
            layout = {
                "task": "sequence reversal (roberta_lab.training.seq2seq_task)",
                "encoder": "encoder/ (TFRobertaModel, add_pooling_layer=False)",
                "decoder": "decoder/ (TFRobertaForCausalLM, is_decoder=True, add_cross_attention=True)",
                "tokenizer": ".",
                "source_format": "<s> letters </s>, letters space-separated as in the TSV",
                "decoder_start_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
                "max_length": a.seq_len,
                "usage": ("h = encoder(src_ids, attention_mask=src_mask).last_hidden_state; "
                          "decoder(dec_ids, encoder_hidden_states=h, encoder_attention_mask=src_mask)"),
            }
            with open(os.path.join(a.out, "seq2seq.json"), "w") as fh:
                json.dump(layout, fh, indent=2)
                fh.write("\n")
        else:
            self.model.save_pretrained(a.out)
        self.tok.save_pretrained(a.out)
        log = {
            "task": a.task,
            "command": a.command,
            "args": {k: v for k, v in vars(a).items() if k != "command"},
            "config": (self.cfg.to_dict() if a.task != "seq2seq" else
                       {"encoder": self.cfg_enc.to_dict(), "decoder": self.cfg_dec.to_dict()}),
            "n_params": self.n_params,
            "steps_planned": a.steps,
            "steps_done": self.step_no,
            "complete": final,  # False for a periodic checkpoint of a run still going
            "stop_reason": self.stop_reason,
            "wall_seconds": round(time.time() - self.t_start, 1),
            "train_seconds": round(time.time() - self.t_train, 1),
            "epochs_seen": round(self.step_no * a.batch / max(len(self.rows), 1), 3),
            "final_loss": self.ema_loss,
            "loss_history": self.history,
        }
        if extra:
            log.update(extra)
        tmp = os.path.join(a.out, "training_log.json.tmp")
        with open(tmp, "w") as fh:
            json.dump(log, fh, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, os.path.join(a.out, "training_log.json"))

    def run(self):
        from tqdm import tqdm
        a = self.args
        self.build()
        self.load_data()
        step_fn = self.make_step()
        print(f"{a.task}: {self.n_params:,} parameters; {a.steps} steps of batch {a.batch} x "
              f"{a.seq_len}; jit_compile={a.jit}", flush=True)
        self.step_no, self.ema_loss, self.history = 0, None, []
        self.stop_reason = "running"
        self.t_train = time.time()
        deadline = self.t_train + a.max_minutes * 60 if a.max_minutes else None
        win_tok, win_t = 0, time.time()
        bar = tqdm(total=a.steps, mininterval=10, file=sys.stderr, dynamic_ncols=False, ncols=90)
        for self.step_no in range(1, a.steps + 1):
            batch = self.next_batch()
            frac = (self.step_no - 1) / a.steps
            if deadline:
                frac = max(frac, (time.time() - self.t_train) / (deadline - self.t_train))
            self.progress.assign(min(frac, 1.0))
            loss, norm, ntok = step_fn(*batch)
            loss = float(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss is {loss} at step {self.step_no}")
            self.ema_loss = loss if self.ema_loss is None else 0.98 * self.ema_loss + 0.02 * loss
            win_tok += int(ntok)
            bar.update(1)
            if self.step_no == 1:
                print(f"step 1 (includes tracing): {time.time() - self.t_train:.1f}s, loss {loss:.4f}",
                      flush=True)
                win_tok, win_t = 0, time.time()
            elif self.step_no % a.log_every == 0 or self.step_no == a.steps:
                dt = time.time() - win_t
                lr = float(self.sched(0))
                msg = (f"step {self.step_no}/{a.steps} loss {loss:.4f} ema {self.ema_loss:.4f} "
                       f"gnorm {float(norm):.2f} lr {lr:.2e} tokens/s {win_tok / dt:.0f} "
                       f"steps/s {a.log_every / dt if self.step_no % a.log_every == 0 else 0:.3f} "
                       f"elapsed {time.time() - self.t_train:.0f}s")
                tqdm.write(msg, file=sys.stdout)
                sys.stdout.flush()
                self.history.append({"step": self.step_no, "loss": round(loss, 4),
                                     "ema": round(self.ema_loss, 4),
                                     "seconds": round(time.time() - self.t_train, 1)})
                win_tok, win_t = 0, time.time()
            if time.time() - self.last_ckpt > a.ckpt_minutes * 60 and self.step_no < a.steps:
                self.save(final=False)
                self.last_ckpt = time.time()
                print(f"checkpoint saved at step {self.step_no}", flush=True)
            if deadline and time.time() >= deadline:
                print(f"stopping at step {self.step_no}: --max-minutes {a.max_minutes} reached",
                      flush=True)
                self.stop_reason = f"--max-minutes {a.max_minutes} reached"
                break
        bar.close()
        train_s = time.time() - self.t_train
        if self.stop_reason == "running":
            self.stop_reason = "--steps reached"
        self.save(final=True)
        print(f"done: {self.step_no} steps in {train_s:.0f}s "
              f"({self.step_no / train_s:.3f} steps/s), ema loss {self.ema_loss:.4f}; saved to {a.out}",
              flush=True)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Train a bundled small roberta_lab model.")
    ap.add_argument("task", choices=sorted(DEFAULTS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq-len", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--warmup", type=float, default=0.06, help="fraction of steps")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="hidden and attention dropout while training (saved in config.json)")
    ap.add_argument("--jit", action="store_true", help="tf.function(jit_compile=True)")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="stop (and save) after this much training time; 0 = no limit")
    ap.add_argument("--max-lines", type=int, default=0, help="use only the first N corpus lines")
    ap.add_argument("--init", help="start from the weights in this folder (e.g. a checkpoint)")
    ap.add_argument("--repeat-frac", type=float, default=0.0,
                    help="causal: share of rows given a random token span twice in a row "
                         "(induction heads; see induction.py)")
    ap.add_argument("--repeat-min", type=int, default=6, help="shortest repeated span")
    ap.add_argument("--repeat-max", type=int, default=24, help="longest repeated span")
    ap.add_argument("--layers", type=int, help="mlm: encoder layers (default 4; deeper than "
                    "--init's model stacks its layers, see grow.py)")
    ap.add_argument("--hidden", type=int, help="mlm: hidden size (default 256)")
    ap.add_argument("--heads", type=int, help="mlm: attention heads (default 8)")
    ap.add_argument("--intermediate", type=int, help="mlm: feed-forward size (default 1024)")
    ap.add_argument("--corpus", default=CORPUS_DIR)
    ap.add_argument("--tokenizer", default=TOKENIZER_DIR)
    argv = sys.argv[1:] if argv is None else [str(x) for x in argv]
    args = ap.parse_args(argv)
    # The command as typed, for training_log.json (also when called as main([...])).
    args.command = "python -m roberta_lab.training.train " + " ".join(argv)
    steps, batch, seq_len, lr = DEFAULTS[args.task]
    args.steps = args.steps or steps
    args.batch = args.batch or batch
    args.seq_len = args.seq_len or seq_len
    args.lr = args.lr or lr
    if args.repeat_frac and args.task != "causal":
        ap.error("--repeat-frac is for the causal task")
    for flag in ("layers", "hidden", "heads", "intermediate"):
        value = getattr(args, flag)
        if value is not None and (args.task != "mlm" or value < 1):
            ap.error(f"--{flag} is a positive size for the mlm task, got {value} for {args.task}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.task == "grammar":
        from roberta_lab.training import classify_task
        return classify_task.train(args)
    Trainer(args).run()


if __name__ == "__main__":
    main()
