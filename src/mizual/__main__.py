from mizual.cli import main

main()
