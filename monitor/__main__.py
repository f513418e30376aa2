from monitor.cli import cli

if __name__ == "__main__":
    cli(prog_name="citation-monitor")
