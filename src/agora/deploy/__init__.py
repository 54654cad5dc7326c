"""What a deployment needs to know about the services, without importing them: the service graph
(:mod:`agora.deploy.graph`) and the Kubernetes manifests generated from it (:mod:`agora.deploy.k8s`)."""
