from fieldkit.launch import main

main()
