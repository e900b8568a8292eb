from replisim.cli import main

main()
