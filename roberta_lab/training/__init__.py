"""Data for the bundled small models: corpus, tokenizer, probe set and seq2seq task.

Modules here are pure Python (+ numpy / ``tokenizers``) and import nothing from
the rest of ``roberta_lab``, so the data can be rebuilt without TensorFlow.
"""
