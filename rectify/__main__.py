from rectify.cli.main import run

run()
