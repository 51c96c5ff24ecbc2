"""What a person reads after a run: tables, figures and (later) the HTML report.

- :mod:`~eis_pipeline.report.tables`: the console summary and its CSV twin, ground-truth
  comparison;
- :mod:`~eis_pipeline.report.figures`: the figures themselves (the only module that imports
  matplotlib);
- :mod:`~eis_pipeline.report.plots`: figure files of a results tree.

Importing this package stays light: no matplotlib until a figure is drawn.
"""
