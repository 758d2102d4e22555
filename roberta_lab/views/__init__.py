"""The views: bertviz adapter (``viz``), its pinned scripts and the ipywidgets. They import from
the model and the engine, never the other way round."""
