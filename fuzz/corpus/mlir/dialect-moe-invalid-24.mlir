func.func @routing_unknown_scoring(%l: tensor<?x8xf32>) {
  // expected-error @+2 {{expected ::mlir::moe::Scoring to be one of: softmax, sigmoid, softmax_after_topk, sigmoid_after_topk}}
  // expected-error @+1 {{failed to parse Moe_RoutingAttr parameter 'scoring'}}
  %w, %i = moe.gate %l routing <scoring = tanh, topK = 2> : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
