from ember.demo import main

main()
