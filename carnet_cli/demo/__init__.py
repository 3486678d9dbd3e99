"""The demo town (`carnet demo`, `make demo`): a deterministic, realistic record to try Carnet on.

It sits beside the CLI, the composition root, because it uses every layer: the record
(`carnet`) to write into, `contract` for degree days and season dates, the shipped portfolio
and simulated world in `data/demo/`. Nothing outside `carnet_cli` imports it.

`town` builds it (`simulate` is pure numpy/pandas, `build_demo` writes it); `scenario` reads
the world of `data/demo/`, `streams` keeps the random draws reproducible, `calendar_weather`,
`bookings` and `physics` simulate, `history` and `faults` write the carnet de santé and the
faults a manager should find.
"""
