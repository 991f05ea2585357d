console.log("hello from the leaky example");
