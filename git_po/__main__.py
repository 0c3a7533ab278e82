from git_po.cli import main

main()
