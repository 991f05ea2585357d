console.log("hello from the sneaky example");
