/// Smooth weighted round robin (the algorithm nginx uses; HAProxy's `roundrobin` gives the same
/// spread): every pick adds each weight to a running score, takes the highest score and
/// subtracts the total. Weights 5:1:1 give a,a,b,a,c,a,a rather than a burst of five a's.
struct RoundRobinBalancer: Balancer {
    private let weights: [Int]
    private var scores: [Int]

    init(weights: [Int]) {
        self.weights = weights
        self.scores = [Int](repeating: 0, count: weights.count)
    }

    mutating func pick(excluding excluded: ServerSet) -> Int? {
        var best: Int?
        var total = 0
        for i in weights.indices where weights[i] > 0 && !excluded.contains(i) {
            scores[i] += weights[i]
            total += weights[i]
            if best == nil || scores[i] > scores[best!] { best = i }
        }
        if let best { scores[best] -= total }
        return best
    }
}
