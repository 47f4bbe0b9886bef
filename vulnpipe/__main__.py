from vulnpipe.cli import main

main()
