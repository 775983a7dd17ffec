from leanfilter.cli import main

main()
