{
  "targets": [
    {
      "target_name": "nimble_threadpool",
      "sources": ["threadpool.c", "embeddings.c", "kv-state.c", "greedy.c", "output-capture.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS=='linux'", { "libraries": ["-ldl"] }]]
    }
  ]
}
