"""``nlayer experiment NAME``: run one of the method's claims (or all) and print the verdicts."""

from rich.table import Table

from nlayer import experiments
from nlayer.runs import plots  # noqa: F401  (selects the Agg backend before the figures are drawn)
from nlayer.runs import rundir


def run(args, console):
    """The experiment command; returns the exit code."""
    dataset = args.dataset or "digits"
    out = rundir.choose(args.out, f"experiment-{args.name}-{dataset}", args.overwrite)
    rundir.make(out)
    quiet = args.quiet

    def progress(name):
        if not quiet:
            console.print(f"running {name} ...", markup=False)

    if args.name == "all":
        results = experiments.run_all(out, dataset, args.quick, args.data_dir, progress)
    else:
        progress(args.name)
        results = [experiments.run_experiment(args.name, out, dataset, args.quick,
                                              data_dir=args.data_dir)]
    table = Table(title=f"nlayer experiment {args.name} ({dataset}"
                        f"{', quick' if args.quick else ''})")
    for column in ("experiment", "claim", "verdict", "reason"):
        table.add_column(column)
    for result in results:
        for claim in result.claims:
            table.add_row(result.name, claim.text, claim.verdict, claim.reason)
    console.print(table)
    console.print(f"report: {out / 'report.md'}", markup=False, soft_wrap=True)
    return 0
