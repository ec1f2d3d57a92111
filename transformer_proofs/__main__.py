from transformer_proofs.cli import main

main()
