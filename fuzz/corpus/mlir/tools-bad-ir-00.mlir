// Invalid IR through moe-opt: exit 1, the verifier's message, no output file.

func.func @f(%l: tensor<?x8xf32>) {
  %w, %i = moe.gate %l routing <scoring = softmax, topK = 9> : tensor<?x8xf32> -> tensor<?x9xf32>, tensor<?x9xi32>
  return
}
