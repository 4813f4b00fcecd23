from aegan.cli import main

main()
